#!/bin/bash
# Written by qcbroker. The task itself is in spec.json next to this file.
exec /opt/qcb/venv/bin/python3 -m backends.local_runner '/scratch/qcb jobs/it'"'"'s "quoted"/t-1-abcd1234'
