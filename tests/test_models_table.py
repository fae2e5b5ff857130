"""The model table's seam: family modules' ``ROWS`` gathered explicitly into a Registry."""

from __future__ import annotations

import types

import pytest

from torchclas.config.registry import Registry, UnknownName
from torchclas.models import MODEL_TABLE, ModelEntry, create_model
from torchclas.models.entry import scale_tag, timm_row
from torchclas.models.table import FAMILY_MODULES, gather_rows


def test_table_is_a_registry_gathered_from_every_family_module():
    assert isinstance(MODEL_TABLE, Registry) and MODEL_TABLE.kind == "model"
    gathered = [row.name for module in FAMILY_MODULES for row in module.ROWS]
    assert gathered == list(MODEL_TABLE)
    assert len(set(FAMILY_MODULES)) == len(FAMILY_MODULES)
    for module in FAMILY_MODULES:
        assert module.ROWS and all(isinstance(row, ModelEntry) for row in module.ROWS), module.__name__
        assert "ROWS" in module.__all__, module.__name__


def test_every_builder_is_a_callable_not_a_name():
    for row in MODEL_TABLE.values():
        assert callable(row.builder) and not isinstance(row.builder, str), row.name


def test_a_name_defined_twice_is_refused():
    twice = types.ModuleType("twice")
    twice.ROWS = [timm_row("DLA34", "DLA", "dla34"), timm_row("DLA34", "DLA", "dla34")]
    with pytest.raises(RuntimeError, match="'DLA34' is defined twice"):
        gather_rows([twice])


def test_unknown_names_name_the_closest_row():
    with pytest.raises(UnknownName, match="did you mean 'ResNet50_vd'"):
        MODEL_TABLE["ResNet50_vdd"]
    with pytest.raises(ValueError, match=r"unknown model 'ResNet50_vdd' \(did you mean 'ResNet50_vd'\?\); "
                                         r"see `torchclas models` for the \d+ names"):
        create_model("ResNet50_vdd")


@pytest.mark.parametrize("scale, tag", [(0.25, "0_25"), (0.33, "0_33"), (0.5, "0_5"), (1.0, "1_0"), (1.3, "1_3"),
                                        (2.5, "2_5")])
def test_scale_tag_spells_paddleclas_width_multipliers(scale, tag):
    assert scale_tag(scale) == tag
