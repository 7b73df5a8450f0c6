#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages pianodiff can use beyond its Python wheels:
#   fluidsynth + the MuseScore General soundfont (its grand piano is a public-domain
#   sampling, per Debian's copyright file) and FluidR3 GM as a second piano timbre: the
#   piano14 render (`make data`) and its tests;
#   ffmpeg: MP4 copies of the diffusion-history animations (GIFs need nothing extra);
#   chromium + chromium-driver: the web page's browser tests (headless, the system browser).
set -euo pipefail
pkgs="fluidsynth musescore-general-soundfont fluid-soundfont-gm ffmpeg chromium chromium-driver"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "error: need root or sudo to install: apt-get install -y $pkgs" >&2; exit 1; fi
if ! command -v apt-get >/dev/null; then
  echo "error: not a Debian/Ubuntu system; install fluidsynth and a GM piano soundfont yourself" >&2
  exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $pkgs
