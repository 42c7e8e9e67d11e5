"""Built-in plugins, registered through the ``denoisebench`` entry-point group like any third-party plugin."""
