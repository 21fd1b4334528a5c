"""Checks: one record's own fields (`RecordChecker`, which also turns it into its staging row,
hashing SSN and PIN at once), then the cross-record checks in SQL over staging and live tables
(`CrossChecks`: duplicated keys and SSNs, dangling references, --replace removals still
referred to). Every finding is a `list[index].field` error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Select, Table, and_, exists, func, select

from bot.hashing import KeyedHasher
from bot.importer.errors import ERROR_CAP, Errors, show_key
from bot.importer.fields import Bad
from bot.importer.spec import REFERRERS, SPECS, F, ListSpec, Ref, table_of
from bot.store import models


class RecordChecker:
    """Turns one JSON record into a staging row, adding `list[i].field` errors."""

    def __init__(self, spec: ListSpec, hasher: KeyedHasher, errors: Errors) -> None:
        self.spec = spec
        self.hasher = hasher
        self.errors = errors
        self.columns = spec.columns
        self.known = {f.name for f in spec.fields}
        self.nested_known = {f.name: {n.name for n in f.nested} for f in spec.fields if f.nested}

    def row(self, record: dict[str, Any], index: int, dups: list[str]) -> list[Any]:
        spec, errors = self.spec, self.errors
        name = spec.name
        ok = True
        values: dict[str, Any] = {}
        for key in dups:
            errors.add(f"{name}[{index}].{key}: appears more than once", name, index)
            ok = False
        for key in record:
            if key not in self.known:
                errors.add(f"{name}[{index}].{show_key(key)}: unknown field", name, index)
                ok = False
        for f in spec.fields:
            raw = record.get(f.name)
            if f.nested:
                if raw is None:
                    errors.add(f"{name}[{index}].{f.name}: is required", name, index)
                    ok = False
                    continue
                if type(raw) is not dict:
                    errors.add(f"{name}[{index}].{f.name}: must be an object", name, index)
                    ok = False
                    continue
                for key in raw:
                    if key not in self.nested_known[f.name]:
                        errors.add(
                            f"{name}[{index}].{f.name}.{show_key(key)}: unknown field", name, index
                        )
                        ok = False
                for n in f.nested:
                    ok = self._field(n, raw.get(n.name), f"{f.name}.{n.name}", index, values) and ok
            else:
                ok = self._field(f, raw, f.name, index, values) and ok
        if name == "people":
            ok = self._people(values, index) and ok
        elif name == "statements":
            ok = self._statement(values, index) and ok
        elif name == "cases":
            ok = self._case(values, index) and ok
        row: list[Any] = [index, 1 if ok else 0]
        get = values.get
        row.extend([get(c) for c in self.columns])
        return row

    def _field(self, f: F, raw: Any, path: str, index: int, values: dict[str, Any]) -> bool:
        if raw is None:
            if f.required:
                self.errors.add(f"{self.spec.name}[{index}].{path}: is required", self.spec.name, index)
                return False
            values[f.column or f.name] = f.default
            return True
        if f.check is None:  # only a nested field has none, and its parts are checked instead
            raise TypeError(f"{self.spec.name}.{path} has no check")
        try:
            values[f.column or f.name] = f.check(raw)
        except Bad as bad:
            self.errors.add(f"{self.spec.name}[{index}].{path}: {bad}", self.spec.name, index)
            return False
        return True

    def _people(self, values: dict[str, Any], index: int) -> bool:
        # Hash at once and drop the digits: only the keyed hashes go any further.
        ssn = values.pop("ssn", None)
        pin = values.pop("pin", None)
        if ssn is not None:
            values["ssn_hash"] = self.hasher.ssn(ssn)
        if pin is not None and values.get("id") is not None:
            values["pin_hash"] = self.hasher.pin(values["id"], pin)
        return True

    def _statement(self, values: dict[str, Any], index: int) -> bool:
        ok = True
        start, end = values.get("period_start"), values.get("period_end")
        if start is not None and end is not None and end < start:
            self.errors.add(
                f"statements[{index}].period_end: must not be before period_start",
                "statements",
                index,
            )
            ok = False
        opening, due, received, closing = (
            values.get(c) for c in ("opening_balance", "support_due", "payments_received", "closing_balance")
        )
        if opening is not None and due is not None and received is not None and closing is not None:
            expected = opening + due - received
            if closing != expected:
                self.errors.add(
                    f"statements[{index}].closing_balance: must equal opening_balance +"
                    f" support_due - payments_received ({expected})",
                    "statements",
                    index,
                )
                ok = False
        return ok

    def _case(self, values: dict[str, Any], index: int) -> bool:
        custodial = values.get("custodial_parent_id")
        if custodial is not None and custodial == values.get("noncustodial_parent_id"):
            self.errors.add(
                f"cases[{index}].noncustodial_parent: must differ from custodial_parent",
                "cases",
                index,
            )
            return False
        return True


class CrossChecks:
    """Cross-record checks in SQL; each finding becomes a `list[index].field` error."""

    def __init__(
        self,
        conn: Connection,
        stages: dict[str, Table],
        present: list[str],
        replace: bool,
        errors: Errors,
    ) -> None:
        self.conn, self.stages, self.present = conn, stages, present
        self.replace, self.errors = replace, errors

    def _fetch(self, query: Select[Any], count_query: Select[Any]) -> Sequence[Any]:
        rows = self.conn.execute(query.limit(ERROR_CAP)).all()
        if len(rows) == ERROR_CAP:
            total = self.conn.execute(count_query).scalar_one()
            self.errors.count(total - len(rows))
        return rows

    def run(self) -> None:
        for name in self.present:
            self.duplicates(name)
        if "people" in self.present:
            self.duplicate_ssns()
        for name in self.present:
            for ref in SPECS[name].refs:
                self.dangling(name, ref)
        if self.replace:
            for name in self.present:
                self.still_referenced(name)

    def _repeats(self, stage: Table, column: Column[Any]) -> Sequence[Any]:
        """(index, index of the first) of each staged row whose `column` an earlier row has."""
        first = (
            select(column.label("value"), func.min(stage.c.idx).label("first"))
            .where(column.is_not(None))
            .group_by(column)
            .having(func.count() > 1)
            .subquery()
        )
        later = stage.join(first, and_(column == first.c.value, stage.c.idx > first.c.first))
        query = select(stage.c.idx, first.c.first).select_from(later).order_by(stage.c.idx)
        return self._fetch(query, select(func.count()).select_from(later))

    def duplicates(self, name: str) -> None:
        spec, stage = SPECS[name], self.stages[name]
        for idx, first_idx in self._repeats(stage, stage.c[spec.key_column]):
            self.errors.add(
                f"{name}[{idx}].{spec.key_field}: duplicate key, also at {name}[{first_idx}]",
                name,
                idx,
            )

    def duplicate_ssns(self) -> None:
        stage = self.stages["people"]
        for idx, first_idx in self._repeats(stage, stage.c.ssn_hash):
            self.errors.add(
                f"people[{idx}].ssn: the same SSN as people[{first_idx}]", "people", idx
            )
        if self.replace:
            return  # every stored person is either in the file or removed
        live = table_of(models.Person)
        other = live.alias("other")
        clash = (
            select(stage.c.idx, other.c.id)
            .select_from(stage.join(other, other.c.ssn_hash == stage.c.ssn_hash))
            .where(other.c.id != stage.c.id)
        )
        # A stored person restated in the file gets the file's SSN: not a clash (a same-SSN
        # pair inside the file is reported above).
        again = stage.alias("again")
        clash = clash.where(~exists().where(again.c.id == other.c.id))
        query = clash.order_by(stage.c.idx)
        for idx, other_id in self._fetch(query, select(func.count()).select_from(clash.subquery())):
            self.errors.add(
                f'people[{idx}].ssn: the same SSN as stored person "{other_id}"', "people", idx
            )

    def dangling(self, name: str, ref: Ref) -> None:
        stage = self.stages[name]
        target_spec = SPECS[ref.target]
        column = stage.c[ref.column]
        conditions: list[ColumnElement[bool]] = [column.is_not(None)]
        if ref.target in self.present:
            target_stage = self.stages[ref.target]
            conditions.append(~exists().where(target_stage.c[target_spec.key_column] == column))
        live_key = target_spec.table.c[target_spec.key_column]
        replaced = self.replace and ref.target in self.present
        if not replaced:
            conditions.append(~exists().where(live_key == column))
        # With --replace a stored target not in the file is about to be removed: say so.
        stored = exists().where(live_key == column)
        query = select(stage.c.idx, column, stored).where(*conditions).order_by(stage.c.idx)
        count = select(func.count()).select_from(stage).where(*conditions)
        for idx, value, is_stored in self._fetch(query, count):
            if is_stored and replaced:
                message = (
                    f'{ref.noun} "{show_key(value)}" is not in the file, and --replace'
                    f" removes stored {ref.target} not in the file"
                )
            else:
                message = f'unknown {ref.noun} "{show_key(value)}"'
            self.errors.add(f"{name}[{idx}].{ref.field}: {message}", name, idx)

    def still_referenced(self, name: str) -> None:
        """Stored records of a list absent from the file that refer to a removed record."""
        spec, stage = SPECS[name], self.stages[name]
        live = spec.table
        live_key = live.c[spec.key_column]
        for referrer_name, ref in REFERRERS.get(name, []):
            if referrer_name in self.present:
                continue  # its rows are in the file and were checked as references
            referrer = SPECS[referrer_name].table
            ref_column = referrer.c[ref.column]
            removed_and_used = (
                select(live_key, func.count().label("n"))
                .select_from(live.join(referrer, ref_column == live_key))
                .where(~exists().where(stage.c[spec.key_column] == live_key))
                .group_by(live_key)
                .order_by(live_key)
            )
            for key, n in self._fetch(
                removed_and_used, select(func.count()).select_from(removed_and_used.subquery())
            ):
                noun, verb = (referrer_name[:-1], "refers") if n == 1 else (referrer_name, "refer")
                self.errors.add(
                    f'{name}: "{show_key(key)}" is not in the file, but {n} stored {noun}'
                    f" (not in the file) still {verb} to it, so --replace cannot remove it",
                    name,
                )
