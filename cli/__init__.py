"""The ``netcon`` command line: thin argparse front-ends over the core, one module per feature."""
