"""The Source seam's own rules: feature names both ways, what each action can count, the usage error
for a feature `-d` cannot count, and a toggle flipping one feature alone."""

from __future__ import annotations

import pytest
from fakes import FakeSource, attachment

from bptraf.errors import UsageError
from bptraf.source import Feature, available, check, toggled


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("", Feature.NONE),
        ("sizes", Feature.SIZES),
        ("sizes,flows", Feature.SIZES | Feature.FLOWS),
        (" flows , tx ,", Feature.FLOWS | Feature.TX),
        ("SIZES,Tx", Feature.SIZES | Feature.TX),
    ],
)
def test_feature_names_parse_to_the_flags_and_back(text, want):
    got = Feature.parse(text)
    assert got == want
    assert Feature.parse(",".join(got.names())) == got


def test_names_come_lower_case_in_declaration_order():
    assert (Feature.TX | Feature.SIZES | Feature.FLOWS).names() == ("sizes", "flows", "tx")
    assert Feature.NONE.names() == ()


def test_an_unknown_feature_name_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=r"^unknown feature 'bogus'$"):
        Feature.parse("sizes,bogus")


def test_drop_counts_totals_only_and_pass_counts_everything():
    assert available("drop") == Feature.NONE
    assert available("pass") == Feature.SIZES | Feature.FLOWS | Feature.TX
    check("pass", Feature.SIZES | Feature.FLOWS | Feature.TX)
    check("drop", Feature.NONE)


def test_drop_with_features_is_a_usage_error_naming_each():
    with pytest.raises(UsageError) as err:
        check("drop", Feature.SIZES | Feature.FLOWS)
    assert str(err.value) == "-d counts totals only: it cannot be combined with --sizes or --flows"


def test_toggled_flips_one_feature_and_keeps_the_others():
    src = FakeSource((attachment(),), [(0, [{}])])
    src.set_features(Feature.SIZES | Feature.TX)
    assert toggled(src, Feature.FLOWS) == Feature.SIZES | Feature.TX | Feature.FLOWS
    assert toggled(src, Feature.SIZES) == Feature.TX
