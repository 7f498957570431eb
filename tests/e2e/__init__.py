"""End-to-end tests: fixture apps built through the real ``bin/*`` on the emulated platforms
(classic and Cloud Native Buildpacks), run as dynos with real processes, Redis and clients."""
