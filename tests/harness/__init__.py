"""What tests and benchmarks run the system with: a service deployment in child processes
(`stack`), a numpy simulator of IonQ's gate set (`ionq_sim`). Not part of the installed
package."""
