"""Unified social credit codes (GB 32100-2015): which are accepted, and why the others are not."""
import pytest

from services.enterprise.domain import (CREDIT_CODE_CHARSET, credit_code_check_char,
                                        credit_code_problem)

REAL_CODE = "91350100M000100Y43"


def _valid(first17):
    return first17 + credit_code_check_char(first17)


def test_a_real_registered_code_is_valid():
    assert credit_code_problem(REAL_CODE) is None


def test_the_check_character_of_the_real_code_is_recomputed():
    assert credit_code_check_char(REAL_CODE[:17]) == REAL_CODE[17]


@pytest.mark.parametrize("first17", [
    "91110000600037341",   # a company in Beijing
    "12100000400010398",   # a public institution
    "52440300MJL000000",   # a social organisation, letters in the body
    "00000000000000000",   # all zeros: check char is '0'
    "9Y4403007685801AB",   # registration authority Y
])
def test_codes_built_with_their_check_character_are_valid(first17):
    code = _valid(first17)
    assert len(code) == 18
    assert code[17] in CREDIT_CODE_CHARSET
    assert credit_code_problem(code) is None


def test_all_zeros_has_check_character_zero():
    assert credit_code_check_char("0" * 17) == "0"


def test_wrong_check_character_names_the_expected_one():
    code = REAL_CODE[:17] + "4"
    assert credit_code_problem(code) == "check character is '4', expected '3'"


@pytest.mark.parametrize("position", [0, 5, 10, 16])
def test_changing_one_character_breaks_the_check(position):
    original = REAL_CODE[position]
    replacement = "1" if original != "1" else "2"
    code = REAL_CODE[:position] + replacement + REAL_CODE[position + 1:]
    problem = credit_code_problem(code)
    assert problem is not None
    assert problem.startswith("check character is '3', expected ")


@pytest.mark.parametrize("code, length", [
    ("", 0),
    (REAL_CODE[:17], 17),
    (REAL_CODE + "0", 19),
    ("91350100M00010", 14),
])
def test_wrong_length_names_the_length(code, length):
    assert credit_code_problem(code) == f"must be 18 characters, got {length}"


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_forbidden_letters_are_named(letter):
    # In the body, where a valid check character cannot save the code.
    code = REAL_CODE[:8] + letter + REAL_CODE[9:]
    assert credit_code_problem(code) == (
        f"contains characters not allowed in a credit code: {letter}")


def test_every_forbidden_character_is_named_once_in_order():
    code = "91350100" + "OIOIZ" + "00100Y43"[:5]
    assert len(code) == 18
    assert credit_code_problem(code) == (
        "contains characters not allowed in a credit code: IOZ")


def test_lower_case_letters_are_not_allowed():
    code = REAL_CODE.lower()
    assert credit_code_problem(code) == (
        "contains characters not allowed in a credit code: my")


def test_a_forbidden_letter_as_check_character_is_refused():
    assert credit_code_problem(REAL_CODE[:17] + "Z") == (
        "contains characters not allowed in a credit code: Z")


@pytest.mark.parametrize("division", ["3501A0", "A50100", "35010N"])
def test_division_code_must_be_digits(division):
    # Build a code whose check character is right, so only the division code is wrong.
    code = _valid("91" + division + REAL_CODE[8:17])
    assert credit_code_problem(code) == (
        "characters 3 to 8 must be the administrative division code (digits)")
