"""``python -m platform_assets.cli``."""

from platform_assets.cli import main

main()
