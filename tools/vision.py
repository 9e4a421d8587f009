"""Tools that hand the model an image: `view_image` for image files in the workspace."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from gemma_code.agent.images import ImageError, PreparedImage, image_for_model, prepare_image
from gemma_code.agent.protocols import ToolContext, ToolError, ToolResult

from .files import existing_file


def image_result(image: PreparedImage, ctx: ToolContext) -> ToolResult:
    """The image as the model takes it (itself, or OCR text), with how in the summary."""
    try:
        for_model = image_for_model(image, vision=ctx.vision)
    except ImageError as exc:
        raise ToolError(str(exc)) from None
    return ToolResult(content=for_model.parts, summary=for_model.how)


class ViewImage:
    """Look at an image file in the workspace."""

    name: ClassVar[str] = "view_image"
    description: ClassVar[str] = (
        "Look at an image file in the workspace (PNG, JPEG, WebP, GIF, BMP): a screenshot, "
        "a diagram, a rendered page. Use it when the user refers to an image or a "
        "screenshot saved in the project."
    )
    mutating: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = False

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str = Field(description="Path of the image, relative to the workspace root.")

    def __call__(self, args: ViewImage.Args, ctx: ToolContext) -> ToolResult:
        path = existing_file(ctx, args.path, "view_image")
        try:
            image = prepare_image(path, name=ctx.workspace.relative(path))
        except ImageError as exc:
            raise ToolError(str(exc)) from None
        return image_result(image, ctx)
