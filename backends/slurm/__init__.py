"""Slurm backends: ``slurm`` (command-line tools), ``slurmrest`` (slurmrestd) and
``slurm-pilot`` (tasks run inside long-lived pilot jobs).

All three run a task the same way: the spec is written as JSON into a task directory on the
cluster's shared file system, and the batch script only starts
``python -m backends.local_runner DIR`` — no value from the task ever appears in shell code.
The pure parts (building requests, parsing Slurm's records, mapping states and reasons,
checking partition limits) live in :mod:`backends.slurm.records` and
:mod:`backends.slurm.requests`; :mod:`backends.slurm.common` is the template the backends
share.
"""
