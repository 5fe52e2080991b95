"""Image pipeline: the build matrix, Dockerfile rendering, builds and manifests."""
