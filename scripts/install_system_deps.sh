#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the piano14 render needs: fluidsynth and the
# MuseScore General soundfont (its grand piano is a public-domain sampling, per Debian's
# copyright file),
# plus FluidR3 GM as a second piano timbre.
set -euo pipefail
pkgs="fluidsynth musescore-general-soundfont fluid-soundfont-gm"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "error: need root or sudo to install: apt-get install -y $pkgs" >&2; exit 1; fi
if ! command -v apt-get >/dev/null; then
  echo "error: not a Debian/Ubuntu system; install fluidsynth and a GM piano soundfont yourself" >&2
  exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $pkgs
