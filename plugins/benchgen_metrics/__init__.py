"""Built-in metrics (MMD, Fréchet distances, MS-SSIM, PRDC, memorization) and feature extractors."""
