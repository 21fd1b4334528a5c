"""The built-in demo extract that `csbot demo` loads, and the demo parents' credentials.

The SSNs are the SSA's advertising range (987-65-4320 to 987-65-4329), never issued to anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_EXTRACT = Path(__file__).with_name("demo-extract.json")


@dataclass(frozen=True)
class DemoPerson:
    person_id: str
    name: str
    roles: str  # what this parent can try in the demo
    ssn: str
    pin: str
    language: str  # "en" or "fr"

    def __str__(self) -> str:
        language = "English" if self.language == "en" else "French"
        return f"{self.name} ({self.roles}; {language}): SSN {self.ssn}, PIN {self.pin}"


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("P-2001", "Maria Lopez", "receiving, 2 cases at 2 offices, long payment history",
               "987-65-4320", "48213", "en"),
    DemoPerson("P-2002", "James Carter", "paying", "987-65-4321", "90517", "en"),
    DemoPerson("P-2003", "Aminata Diallo", "receiving on one case, paying on another",
               "987-65-4322", "31764", "fr"),
    DemoPerson("P-2004", "Claude Mercier", "paying", "987-65-4323", "62048", "fr"),
    DemoPerson("P-2005", "Dana Reed", "receiving", "987-65-4324", "17395", "en"),
    DemoPerson("P-2006", "Luc Tremblay", "paying", "987-65-4325", "05821", "fr"),
)
