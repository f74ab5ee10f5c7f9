"""Masking rules (pure functions) and the document content check."""

from __future__ import annotations

import pytest

from app.mediation.documents import DocumentRejected, inspect_document
from app.mediation.redaction import cut_address, mask_name, mask_phone
from tests.helpers import jpeg
from tests.mediation.flow import pdf


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("李四娃", "李**"),
        ("欧阳娜娜", "欧***"),
        ("王", "*"),
        (" Li Wei ", "L*****"),
        ("", "*"),
    ],
)
def test_names_keep_their_first_character(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("028-87654321", "*******4321"),
        ("123", "***"),
        (None, None),
        ("", ""),
    ],
)
def test_phones_keep_little(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("address", "cut"),
    [
        ("郫都区望丛社区杜鹃雅居3栋2单元1201", "郫都区望丛社区杜鹃雅居…"),
        ("杜鹃雅居三栋二单元", "杜鹃雅居…"),
        ("望丛社区１２号", "望丛社区…"),
        ("四川省成都市郫都区郫筒街道望丛社区杜鹃雅居", "四川省成都市郫都区郫筒街…"),
        ("望丛社区", "望丛社区"),
        (None, None),
    ],
)
def test_addresses_are_cut_before_the_house_number(address, cut):
    assert cut_address(address) == cut


def test_documents_are_pdfs_or_images_by_content():
    assert inspect_document(pdf(), 10_000).content_type == "application/pdf"
    assert inspect_document(jpeg(), 10_000).content_type == "image/jpeg"
    for content, status in ((b"%PDF-1.4 no end", 422), (b"GIF89a....", 422), (pdf() * 400, 413)):
        with pytest.raises(DocumentRejected) as refused:
            inspect_document(content, 10_000)
        assert refused.value.status == status
