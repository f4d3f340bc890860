"""The proposal PDF is real: its extracted text holds the title, Unicode institutes, targets."""

import io

from pypdf import PdfReader

from proposals import services
from proposals.commands import TargetData
from proposals.pdf import render_proposal_pdf
from tests.factories import UserFactory


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_pdf_contains_title_unicode_institutes_and_targets(draft):
    # given investigators from three institutes with non-ASCII names
    paris = UserFactory.create(email="curie@example.org", institute="Université Paris-Saclay")
    beijing = UserFactory.create(email="wang@example.org", institute="国家天文台")
    for user in (paris, beijing):
        coi = services.coi_add(proposal_id=draft.pk, actor=draft.pi, email=user.email)
        services.coi_accept(token=str(coi.invitation_token), user=user)
    services.target_create(
        proposal_id=draft.pk,
        actor=draft.pi,
        data=TargetData(name="NGC 253", ra="00:47:33", dec="-25:17:18"),
    )
    # when
    data = render_proposal_pdf(draft.pk)
    # then
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert draft.title in text
    for institute in ("Universität Göttingen", "Université Paris-Saclay", "国家天文台"):
        assert institute in text
    assert "LMC field" in text and "NGC 253" in text
    assert "DRAFT" in text
    assert "Visibility of run (A)" in text
