"""Category endpoints: read the catalogue (any signed-in user); create, change, deactivate (admins)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.roles import Role
from app.categories import services
from app.categories.schemas import (
    CategoryInput,
    CategoryPatchInput,
    CategoryQueryArgs,
    CategoryReplaceInput,
    CategorySchema,
)
from app.extensions import db
from app.http import api_user, page_schema, paginate, require_roles

blp = Blueprint("categories", __name__, url_prefix="/api/v1/categories", description="案件类别 Categories")
CategoryPage = page_schema(CategorySchema, "CategoryPage")
ADMINS = {Role.ADMIN}


@blp.route("")
class Categories(MethodView):
    @blp.arguments(CategoryQueryArgs, location="query")
    @blp.response(200, CategoryPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The catalogue by code; filter by kind, class (``parent``) or text (``q``)."""
        api_user()
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.list_categories(**args), page, page_size)

    @blp.arguments(CategoryInput)
    @blp.response(201, CategorySchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a category (admins)."""
        category = services.create_category(require_roles(ADMINS), body)
        db.session.commit()
        return category


@blp.route("/<code>")
class CategoryItem(MethodView):
    @blp.response(200, CategorySchema)
    def get(self, code: str) -> Any:
        api_user()
        return services.require_category(code)

    @blp.arguments(CategoryReplaceInput)
    @blp.response(200, CategorySchema)
    def put(self, body: dict[str, Any], code: str) -> Any:
        """Replace a category (admins)."""
        category = services.update_category(require_roles(ADMINS), code, body, replace=True)
        db.session.commit()
        return category

    @blp.arguments(CategoryPatchInput)
    @blp.response(200, CategorySchema)
    def patch(self, body: dict[str, Any], code: str) -> Any:
        """Change some fields of a category (admins)."""
        category = services.update_category(require_roles(ADMINS), code, body, replace=False)
        db.session.commit()
        return category

    @blp.response(200, CategorySchema)
    def delete(self, code: str) -> Any:
        """Deactivate a category (admins): it is no longer offered; cases keep it."""
        category = services.deactivate_category(require_roles(ADMINS), code)
        db.session.commit()
        return category
