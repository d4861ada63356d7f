"""Pictures: proposal importance painted over the image (``groundbench explain``) and result plots
(``groundbench plot``)."""
