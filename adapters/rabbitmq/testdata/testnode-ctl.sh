#!/bin/bash
# rabbitmqctl against the test node (MQBENCH_RABBITMQ_CTL takes one word).
exec "$(dirname "$(readlink -f "$0")")/testnode.sh" ctl "$@"
