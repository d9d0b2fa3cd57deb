#!/bin/bash
# every 2 s: processes using > 3% CPU over the interval (top's delta), to spot interference
top -b -d 2 -w 200 | awk '/^top -/{t=$3} $1 ~ /^[0-9]+$/ && $9+0 > 3 {print t, $1, $9, $12; fflush()}'
