"""The ldm generator plugin: latent diffusion on a MONAI AutoencoderKL, reusing the ddpm plugin."""
