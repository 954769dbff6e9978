"""The DDPM generator plugin: the reference study's 3D MONAI diffusion model trained with Accelerate."""
