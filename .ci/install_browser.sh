#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests, once.
#
# Idempotent: does nothing when /usr/bin/chromium is already there. Never runs
# `playwright install` and never downloads a browser build: the tests drive the
# system package through Playwright's `executable_path`.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium

if [ ! -x /usr/bin/chromium ]; then
    echo "error: apt-get finished but /usr/bin/chromium is missing" >&2
    exit 1
fi
echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
