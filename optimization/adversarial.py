"""An adversarial term for distillation: a PatchGAN discriminator on the try-on, hinge loss.

The discriminator (Isola et al., pix2pix, CVPR 2017) is fully convolutional: each of its outputs
scores one patch of the image (70x70 pixels with three stride-2 layers), so it judges texture
and edges, which L1 and SSIM to the teacher leave blurred, not the layout. It is conditional:
it sees the try-on together with the generator's input (person, warped garment, warped mask),
so a sharp try-on that ignores the garment is still fake. "Real" is the teacher's try-on with
the teacher's generator input: the student is trained to be indistinguishable from its teacher,
which needs no ground truth.

Hinge loss (Lim and Ye 2017; Miyato et al. 2018), with spectral normalisation on every
convolution of the discriminator:

    discriminator: mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))
    student:       -mean(D(fake))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

TRYON_CHANNELS = 3
CONDITION_CHANNELS = 7  # person RGB, warped garment RGB, warped mask: the generator's input


class PatchDiscriminator(nn.Module):
    """``(N, 10, H, W)`` (condition then try-on, in [-1, 1]) -> ``(N, 1, H/8 - 2, W/8 - 2)`` scores.

    Args:
        width: channels of the first layer; they double per layer up to 8x.
        layers: stride-2 layers (3: 70x70 patches).
    """

    def __init__(self, width: int = 32, layers: int = 3):
        super().__init__()
        channels = [CONDITION_CHANNELS + TRYON_CHANNELS] + [
            width * min(2**index, 8) for index in range(layers + 1)
        ]
        stack: list[nn.Module] = []
        for index, (inputs, outputs) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            stride = 2 if index < layers else 1
            stack += [
                spectral_norm(nn.Conv2d(inputs, outputs, 4, stride=stride, padding=1)),
                nn.LeakyReLU(0.2),
            ]
        stack.append(spectral_norm(nn.Conv2d(channels[-1], 1, 4, padding=1)))
        self.model = nn.Sequential(*stack)

    def forward(self, condition: torch.Tensor, tryon: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([condition, tryon], dim=1))


def generator_condition(person: torch.Tensor, out: dict[str, torch.Tensor]) -> torch.Tensor:
    """The generator's input behind a `tryon_forward` result: (N, 7, H, W), no gradient."""
    parts = [person, out["warped_cloth"], out["warped_edge"]]
    return torch.cat([part.float() for part in parts], dim=1).detach()


class Adversary(nn.Module):
    """The discriminator with its own optimizer, trained one step per student step.

    Args:
        width: first-layer width of the discriminator.
        lr: its Adam learning rate (betas 0.5, 0.999 as in pix2pix).
    """

    def __init__(self, width: int = 32, lr: float = 2e-4):
        super().__init__()
        self.discriminator = PatchDiscriminator(width)
        self.lr = lr
        self.optimizer: torch.optim.Optimizer | None = None

    def _ensure_optimizer(self) -> torch.optim.Optimizer:
        # Built on first use, after the module was moved to its device.
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam(
                self.discriminator.parameters(), lr=self.lr, betas=(0.5, 0.999)
            )
        return self.optimizer

    def student_loss(self, condition: torch.Tensor, tryon: torch.Tensor) -> torch.Tensor:
        """Hinge loss of the student's try-on (gradients reach the student only)."""
        self.discriminator.requires_grad_(False)
        try:
            return -self.discriminator(condition, tryon.float()).mean()
        finally:
            self.discriminator.requires_grad_(True)

    def step(
        self,
        real_condition: torch.Tensor,
        real: torch.Tensor,
        fake_condition: torch.Tensor,
        fake: torch.Tensor,
    ) -> torch.Tensor:
        """One discriminator update on a batch; returns its hinge loss (detached)."""
        optimizer = self._ensure_optimizer()
        self.discriminator.train()
        real_scores = self.discriminator(real_condition, real.detach().float())
        fake_scores = self.discriminator(fake_condition, fake.detach().float())
        loss = F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    def training_state(self) -> dict:
        """Discriminator weights and optimizer state, for resuming."""
        return {
            "discriminator": self.discriminator.state_dict(),
            "optimizer": self._ensure_optimizer().state_dict(),
        }

    def load_training_state(self, state: dict) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        self._ensure_optimizer().load_state_dict(state["optimizer"])
