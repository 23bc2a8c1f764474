"""One module per ``zynqyolo`` subcommand; see ``zynqyolo.cli``."""
