"""Installing into the app's Python (classic) or into a layer of our own (Cloud Native
Buildpacks), and the pip runs that do it."""
