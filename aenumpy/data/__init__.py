"""The data shipped inside the package: the 8×8 digits (digits.npz), read by
:func:`aenumpy.datasets.load_digits`."""
