"""Seconds per epoch of net53k on MNIST: cymlp vs the NumPy reference (see cymlp.bench)."""

from cymlp.bench import main

if __name__ == "__main__":
    main()
