"""The distillation loss terms: SSIM against the teacher is zero for a perfect student and
trains the student on its own."""

from __future__ import annotations

import copy

import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch")

from optimization.archs.tryon import TorchTryOn, build_models  # noqa: E402
from optimization.archs.widths import tiny_gen_widths, tiny_warp_widths  # noqa: E402
from optimization.distill import Distiller  # noqa: E402
from optimization.recipes import SSIM_TERMS  # noqa: E402


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    person = torch.rand(2, 3, 256, 192, generator=generator) * 2 - 1
    clothes = torch.rand(2, 3, 256, 192, generator=generator) * 2 - 1
    edge = (torch.rand(2, 1, 256, 192, generator=generator) > 0.5).float()
    return person, clothes, edge


@pytest.fixture
def teacher():
    torch.manual_seed(0)
    return TorchTryOn(*build_models(tiny_warp_widths(), tiny_gen_widths()))


def test_ssim_terms_only_when_asked(teacher, batch):
    terms, _ = Distiller(teacher, copy.deepcopy(teacher))(*batch)
    assert not set(SSIM_TERMS) & set(terms)


def test_ssim_terms_vanish_for_the_teacher_itself(teacher, batch):
    terms, _ = Distiller(teacher, copy.deepcopy(teacher), ssim_terms=SSIM_TERMS)(*batch)
    for name in SSIM_TERMS:
        assert abs(terms[name].item()) < 1e-4, name


def test_ssim_term_alone_trains_a_perturbed_student(teacher, batch):
    student = copy.deepcopy(teacher)
    last = [m for m in student.gen_model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight.add_(torch.randn_like(last.weight) * 0.2)
    distiller = Distiller(teacher, student, ssim_terms=("p_tryon_ssim",))
    terms, _ = distiller(*batch)
    assert terms["p_tryon_ssim"].item() > 0.01
    terms["p_tryon_ssim"].backward()
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())
