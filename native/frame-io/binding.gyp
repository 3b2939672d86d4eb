# The frame I/O addon (frame_io.c): plain C over N-API, so one build serves every Node >= 20.
# Built by netns/setup.sh through `npm run build:native` (node-gyp, headers from npm's nodedir).
{
  "targets": [
    {
      "target_name": "frame_io",
      "sources": ["frame_io.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
