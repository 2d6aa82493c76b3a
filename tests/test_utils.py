"""seed_everything, show_source and doctor."""
import random

import numpy as np
import pytest
import torch

from rlft_core import doctor, seed_everything, show_source
from rlft_core.returns import gae


def draw():
    return random.random(), np.random.rand(), torch.rand(1).item()


def test_same_seed_gives_same_numbers_and_other_seed_differs():
    seed_everything(7)
    first = draw()
    seed_everything(7)
    assert draw() == first
    seed_everything(8)
    assert draw() != first


def test_seed_everything_returns_a_seeded_generator():
    a = torch.rand(3, generator=seed_everything(3))
    b = torch.rand(3, generator=seed_everything(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_show_source_returns_and_prints_the_real_source(capsys):
    source = show_source(gae)
    assert source.startswith("def gae(")
    assert "Schulman" in source
    assert "def gae(" in capsys.readouterr().out


def test_show_source_rejects_objects_without_source():
    with pytest.raises(ValueError, match="obj"):
        show_source(3)


def test_doctor_reports_no_problems_here(capsys):
    report = doctor()
    assert report["problems"] == []
    assert report["widget_roundtrip"] is True
    assert report["torch"].startswith("2.13.0")
    assert "All good" in capsys.readouterr().out
