"""The registry's RPC input and output: the contract's schemas (contracts.api.registry), with
the registry's own rules added where it has some. Unknown fields are refused (marshmallow's
RAISE)."""
from marshmallow import ValidationError, validates

from contracts.api import registry as contract
from contracts.api.registry import (Assignment, AssignmentInput, Assignments,  # noqa: F401
                                    AvailabilityInput, Coverage, Enterprise, EnterpriseFile,
                                    EnterpriseFilter, Grid, GridInput, ImportInput,
                                    ImportReport, Officer, OfficerFilter, OfficerInput,
                                    OfficerReach, Park, ParkInput, ResponderQuery, Responders,
                                    Station, StationInput)

from .domain import credit_code_problem


class EnterpriseInput(contract.EnterpriseInput):
    """The contract's enterprise, whose credit code must also be a valid unified social
    credit code (its check character included)."""

    @validates("credit_code")
    def _check_credit_code(self, value, **kwargs):
        problem = credit_code_problem(value)
        if problem:
            raise ValidationError(problem)
