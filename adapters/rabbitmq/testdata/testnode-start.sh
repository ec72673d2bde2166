#!/bin/bash
# Starts the test node (MQBENCH_RABBITMQ_START takes one word).
exec "$(dirname "$(readlink -f "$0")")/testnode.sh" start
