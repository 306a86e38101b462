"""``show -v``'s Metadata values as Ollama's CLI prints them: Go's ``%g`` for numbers (JSON numbers
are float64 there), ``%v`` for arrays, and an array cut to the items that fit in 10 columns."""

from __future__ import annotations

import pytest

from registry.cli.show_layout import render_show_info


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (262144, "262144"),
        (1000000, "1e+06"),
        (1234567, "1.234567e+06"),
        (1e-06, "1e-06"),
        (0.0001, "0.0001"),
        (0.5, "0.5"),
        (-3.25, "-3.25"),
        (0, "0"),
        (True, "true"),
        ("llama", "llama"),
        ([1, 2], "[1 2]"),
        ([1, 2, 3, 4, 5, 6], "[1 2 3 ...+3 more]"),
        (["<pad>", "<eos>", "<bos>"], "[<pad> ...+2 more]"),
        (["a-very-long-token", "x"], "[a-very-long-token ...+1 more]"),
        ([], "[]"),
    ],
)
def test_metadata_values_print_as_ollamas(value: object, shown: str) -> None:
    text = render_show_info({"model_info": {"k": value}}, verbose=True)
    assert text == f"  Metadata\n    k    {shown}\n\n"
