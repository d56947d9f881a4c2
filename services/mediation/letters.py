"""The risk warning letter to the township government, as printable HTML (a Jinja2 template
with autoescaping: nothing a party wrote can inject markup). It names the dispute by its id,
kind, figures and grade, not the parties: the township asks the police for them when it acts."""
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .exceptions import LetterNotFound

_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(("html",)))
FLAGS = {"civil_may_turn_criminal": "民转刑风险 civil may turn criminal",
         "criminal_may_turn_deadly": "刑转命风险 criminal may turn deadly"}


def render_letter(dispute, letter_id, addressee="乡镇（街道）人民政府 Township government"):
    letter = next((lt for lt in dispute.letters if lt.id == letter_id), None)
    if letter is None:
        raise LetterNotFound(letter_id)
    people = sum(p.headcount for p in dispute.parties if p.kind in ("workers", "individual"))
    return _TEMPLATES.get_template("warning_letter.html").render(
        dispute=dispute, letter=letter, addressee=addressee, people=people, flags=FLAGS)
