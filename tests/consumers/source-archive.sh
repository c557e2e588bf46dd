#!/usr/bin/env bash
# source-archive.sh - the source archive the registry port (ports/childproc) and the conan-center
# recipe (recipes/childproc) pin, made locally the way GitHub serves /archive/<commit>.tar.gz
# (`git archive`, top directory childproc-<commit>/).
#   source-archive.sh [--pin] COMMIT [DIR]
# writes DIR/childproc-childproc-<commit>.tar.gz (the file name vcpkg_from_github downloads to;
# DIR defaults to the current directory) and prints its SHA512 and SHA256. With --pin it also
# writes COMMIT and the two hashes into ports/childproc/portfile.cmake and
# recipes/childproc/all/conandata.yml. docs/packaging.md says when to use which.
set -euo pipefail
pin=0
if [ "${1:-}" = "--pin" ]; then pin=1; shift; fi
[ $# -ge 1 ] || { echo "usage: $0 [--pin] COMMIT [DIR]" >&2; exit 2; }
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=$(git -C "$root" rev-parse --verify "$1^{commit}")
dir=${2:-.}
mkdir -p "$dir"
archive="$dir/childproc-childproc-$commit.tar.gz"
git -C "$root" archive --format=tar.gz --prefix="childproc-$commit/" -o "$(cd "$dir" && pwd)/$(basename "$archive")" "$commit"
sha512=$(sha512sum "$archive" | cut -d' ' -f1)
sha256=$(sha256sum "$archive" | cut -d' ' -f1)
echo "archive $archive"
echo "REF     $commit"
echo "SHA512  $sha512"
echo "SHA256  $sha256"
if [ $pin = 1 ]; then
  sed -i -E "s/^(    REF ).*/\1$commit/; s/^(    SHA512 ).*/\1$sha512/" "$root/ports/childproc/portfile.cmake"
  sed -i -E "s#^(    url: \"https://github.com/childproc/childproc/archive/).*(\.tar\.gz\")#\1$commit\2#; s/^(    sha256: \").*(\")/\1$sha256\2/" \
    "$root/recipes/childproc/all/conandata.yml"
  echo "pinned ports/childproc/portfile.cmake and recipes/childproc/all/conandata.yml to $commit"
fi
