# The SO_ORIGINAL_DST addon (native/original_dst.c), built by `npm install` /
# `npm ci` through native/build.mjs (Linux only; elsewhere the build is skipped).
{
  "targets": [
    {
      "target_name": "tlsmesh_original_dst",
      "sources": ["native/original_dst.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
