"""``python -m groundbench`` / ``torchrun -m groundbench``: the ``groundbench`` command line."""
from .cli import main

if __name__ == "__main__":
    main(prog_name="groundbench")
