#!/bin/bash
# per-second /proc/stat per-CPU lines (user nice system idle iowait irq softirq steal)
while true; do echo "$(date -u +%H:%M:%S) $(grep -E '^cpu[01] ' /proc/stat | tr '\n' ' ')"; sleep 1; done
