#!/usr/bin/env bash
# Runs a command as on a fresh machine that lacks every optional system package: in a
# private mount namespace, the soundfont folders are empty tmpfs mounts and each optional
# program is covered by /dev/null (no longer executable, so PATH lookups fail). Nothing
# outside the namespace changes. Needs root (CI runs as root); refuses otherwise.
#   usage: .ci/without_system_parts.sh COMMAND [ARGS...]
set -euo pipefail
if [ "${_PIANODIFF_HIDDEN:-}" != 1 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
    echo "error: hiding system packages needs root and unshare (util-linux)" >&2; exit 1
  fi
  exec env _PIANODIFF_HIDDEN=1 unshare --mount --propagation private bash "$0" "$@"
fi
for dir in /usr/share/sounds /usr/share/soundfonts; do
  if [ -d "$dir" ]; then mount -t tmpfs -o ro,size=1k none "$dir"; fi
done
for prog in fluidsynth ffmpeg ffprobe sox chromium chromedriver; do
  while path=$(command -v "$prog" 2>/dev/null) && [ -x "$path" ]; do
    mount --bind /dev/null "$(readlink -f "$path")"
    hash -r
  done
done
exec "$@"
