"""``python -m broker.cli``: the same as ``qcb``."""

from broker.cli.main import main

main()
