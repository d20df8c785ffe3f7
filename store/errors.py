"""Errors raised by the storage adapter, each with a stable `code` for the API's problem+json mapping."""

from __future__ import annotations


class StoreError(Exception):
    """A storage request that cannot be served (unknown registry or column, unusable value, ...)."""

    def __init__(self, message: str, *, code: str = "store_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class DataLoadError(StoreError, ValueError):
    """A shared-data file that breaks the format; nothing of the load that raised it was committed.

    `file` is the file name, `line` the 1-based physical line (header = line 1) and `column` the
    column name; `line` and `column` are None when the problem concerns the whole file or row.
    `message` is Chinese, `message_en` its English rendering; str() shows both.
    """

    def __init__(
        self,
        *,
        file: str,
        message: str,
        message_en: str,
        line: int | None = None,
        column: str | None = None,
        code: str = "invalid_data",
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message_en = message_en
        super().__init__(self._render(file, line, column, message, message_en), code=code)
        self.message = message

    @staticmethod
    def _render(file: str, line: int | None, column: str | None, message: str, message_en: str) -> str:
        zh = file
        en: list[str] = []
        if line is not None:
            zh += f" 第{line}行"
            en.append(f"line {line}")
        if column is not None:
            zh += f" {column} 列"
            en.append(f"column {column}")
        where_en = ", ".join([file, *en])
        return f"{zh}: {message} ({where_en}: {message_en})"
