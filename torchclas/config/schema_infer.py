"""``Infer`` section: the images ``torchclas infer -c CONFIG`` classifies, and the post-process
(PaddleClas names, each with its own keys and defaults: ``POSTPROCESS_KEYS``)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import Field, model_validator

from .schema_base import REQUIRED, Section, check_keys

__all__ = ["PostProcessConfig", "InferConfig", "POSTPROCESS_KEYS", "NOT_YET_IMPLEMENTED_POSTPROCESSES"]

_CLASS_NAMES = {"class_id_map_file": None, "delimiter": None}
# The keys each ``Infer.PostProcess.name`` takes, with their defaults (PaddleClas's
# ppcls/data/postprocess/ names; Topk's default topk is torchclas's 5, PaddleClas's is 1).
POSTPROCESS_KEYS: dict[str, dict[str, Any]] = {
    "Topk": {"topk": 5, **_CLASS_NAMES},
    "ThreshOutput": {"threshold": REQUIRED, "label_0": "0", "label_1": "1"},
    "MultiLabelThreshOutput": {"threshold": 0.5, **_CLASS_NAMES},
    "ScoreOutput": {"decimal_places": REQUIRED},
    # its own keys, plus those of the post-process ``func`` names
    "DistillationPostProcess": {"model_name": "Student", "key": None, "func": "Topk"},
}
NOT_YET_IMPLEMENTED_POSTPROCESSES = ("PersonAttribute", "VehicleAttribute", "TableAttribute")
"""PaddleClas post-processes of attribute models (their own issue)."""


class PostProcessConfig(Section):
    """``Infer.PostProcess``: a PaddleClas post-process and its keys.

    ``Topk`` keeps the ``topk`` most probable classes, named from ``class_id_map_file`` ("id
    name" lines, split at ``delimiter``, default any whitespace); ``ThreshOutput`` (binary
    classifiers) reports ``label_1`` when class 1's softmax score reaches ``threshold``, else
    ``label_0``; ``MultiLabelThreshOutput`` every class whose sigmoid score reaches ``threshold``;
    ``ScoreOutput`` the raw outputs rounded to ``decimal_places``; ``DistillationPostProcess``
    applies ``func`` (with its keys) to the student's output. A key the chosen post-process does
    not take is an error naming it; ``param(key)`` reads a key with the post-process's default.

    Example:
        >>> PostProcessConfig(name="ThreshOutput", threshold=0.9).param("label_1")
        '1'
    """

    NAMES: ClassVar[tuple[str, ...]] = tuple(POSTPROCESS_KEYS)

    name: Literal["Topk", "ThreshOutput", "MultiLabelThreshOutput", "ScoreOutput",
                  "DistillationPostProcess"] = "Topk"
    topk: int = Field(5, ge=1)
    class_id_map_file: Optional[str] = None
    delimiter: Optional[str] = None
    threshold: Optional[float] = None
    label_0: Optional[str] = None
    label_1: Optional[str] = None
    decimal_places: Optional[int] = Field(None, ge=0)
    model_name: Optional[str] = None
    key: Optional[str] = None
    func: Optional[Literal["Topk", "ThreshOutput", "MultiLabelThreshOutput", "ScoreOutput"]] = None

    @model_validator(mode="before")
    @classmethod
    def _not_yet_named(cls, data: Any) -> Any:
        name = data.get("name") if isinstance(data, dict) else None
        if name in NOT_YET_IMPLEMENTED_POSTPROCESSES:
            raise ValueError(f"'{name}' is a PaddleClas post-process not implemented in torchclas yet; "
                             f"available: {', '.join(POSTPROCESS_KEYS)}")
        return data

    @model_validator(mode="after")
    def _keys_fit_postprocess(self) -> PostProcessConfig:
        owner, table = self.name, dict(POSTPROCESS_KEYS)
        if self.name == "DistillationPostProcess":
            owner = f"DistillationPostProcess with func {self.postprocess_name}"
            table[owner] = {**POSTPROCESS_KEYS[self.name], **POSTPROCESS_KEYS[self.postprocess_name]}
        # topk has a default of its own (the field's, for configs without a PostProcess section)
        shown = self if "topk" in self.model_fields_set else self.model_copy(update={"topk": None})
        check_keys(shown, "Infer.PostProcess", owner, table)
        return self

    @property
    def postprocess_name(self) -> str:
        """The post-process that runs: ``name``, or for ``DistillationPostProcess`` its ``func``."""
        if self.name == "DistillationPostProcess":
            return self.func or POSTPROCESS_KEYS["DistillationPostProcess"]["func"]
        return self.name

    def param(self, key: str) -> Any:
        """The value of ``key``, or the running post-process's default for it."""
        value = getattr(self, key) if key != "topk" or "topk" in self.model_fields_set else None
        return POSTPROCESS_KEYS[self.postprocess_name].get(key) if value is None else value

    def spec(self) -> dict[str, Any]:
        """The post-process that runs, as ``{"name": ..., key: value}`` (what an export stores):
        the keys it takes with their values or defaults, without the class-name file keys (the
        names themselves travel as the model's class names).

        Example:
            >>> PostProcessConfig(name="DistillationPostProcess", func="Topk", topk=1).spec()
            {'name': 'Topk', 'topk': 1}
        """
        name = self.postprocess_name
        return {"name": name, **{k: self.param(k) for k in POSTPROCESS_KEYS[name] if k not in _CLASS_NAMES}}


class InferConfig(Section):
    """``Infer``: images to classify, batch size, preprocessing and post-processing.

    ``infer_imgs`` (an image file or a folder, searched recursively) is what ``torchclas infer -c
    CONFIG`` classifies when no image is given on the command line.
    """

    infer_imgs: Optional[str] = None
    batch_size: int = Field(10, ge=1)
    transforms: Optional[list[dict[str, Any]]] = None
    PostProcess: PostProcessConfig = Field(default_factory=PostProcessConfig)
