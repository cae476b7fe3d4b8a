"""Drafts (the analyst's workspace): open from the deployed version, save with problems, deploy, diff."""
import pytest
from sqlalchemy import func, select

from app.engine import diff as element_diff
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.models import AuditEvent, FormDefinition, ProcessDraft, User
from app.services import clock, drafts, drafts_diff, processes
from app.services.uow import run_use_case
from config import BASE_DIR

KEY = "business_startup"
FOLDER = BASE_DIR / "processes"
# a user task in 税务局's lane, put on the flow into 申领发票及税务UKey, with no form yet
NEW_TASK = ('<bpmn:userTask id="task_tax_check" name="税务预审">'
            '<bpmn:incoming>flow_tax</bpmn:incoming><bpmn:outgoing>flow_tax_check</bpmn:outgoing></bpmn:userTask>')


@pytest.fixture
def database_url(sqlite_template, tmp_path):
    import shutil
    path = tmp_path / "drafts.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def run(fn):
    return run_use_case(db.session, fn)


def analyst_id() -> int:
    return db.session.execute(select(User.id).where(User.username == "analyst")).scalar_one()


def deployed_xml() -> str:
    return processes.latest(db.session, KEY).bpmn_xml


def with_new_task(xml: str, form_key: str | None = None) -> str:
    """Insert task_tax_check between the inclusive split and 申领发票及税务UKey, in the 税务局 lane, with DI."""
    task = NEW_TASK if form_key is None else NEW_TASK.replace('name="税务预审"',
                                                              f'name="税务预审" camunda:formKey="{form_key}"')
    assert 'id="flow_tax"' in xml
    xml = xml.replace('<bpmn:flowNodeRef>task_tax</bpmn:flowNodeRef>',
                      '<bpmn:flowNodeRef>task_tax</bpmn:flowNodeRef><bpmn:flowNodeRef>task_tax_check</bpmn:flowNodeRef>')
    xml = xml.replace('sourceRef="gw_split" targetRef="task_tax"', 'sourceRef="gw_split" targetRef="task_tax_check"')
    xml = xml.replace('<bpmn:incoming>flow_tax</bpmn:incoming>', '<bpmn:incoming>flow_tax_check</bpmn:incoming>', 1)
    xml = xml.replace('</bpmn:laneSet>', '</bpmn:laneSet>' + task
                      + '<bpmn:sequenceFlow id="flow_tax_check" sourceRef="task_tax_check" targetRef="task_tax" />')
    di = ('<bpmndi:BPMNShape id="task_tax_check_di" bpmnElement="task_tax_check"><dc:Bounds x="10" y="10" '
          'width="100" height="80" /></bpmndi:BPMNShape><bpmndi:BPMNEdge id="flow_tax_check_di" '
          'bpmnElement="flow_tax_check"><di:waypoint x="110" y="50" /><di:waypoint x="200" y="50" />'
          '</bpmndi:BPMNEdge>')
    return xml.replace('</bpmndi:BPMNPlane>', di + '</bpmndi:BPMNPlane>')


def test_a_process_not_yet_edited_opens_as_its_latest_version_without_storing_anything(app):
    draft = drafts.current(db.session, KEY, processes_dir=FOLDER)
    assert draft.saved is False and draft.base_version == 1
    assert draft.bpmn_xml == deployed_xml()
    assert "410600-AMR-001" in draft.catalog_yaml and "# " in draft.catalog_yaml  # the file, with its comments
    assert draft.bpmn_problems == [] and draft.catalog_problems == [] and draft.deployable
    assert "business_startup_register" in draft.form_keys
    assert db.session.execute(select(func.count()).select_from(ProcessDraft)).scalar() == 0


def test_saving_a_task_without_a_form_keeps_the_draft_and_names_the_element(app):
    now = clock.now()
    draft = run(lambda: drafts.save_bpmn(db.session, KEY, with_new_task(deployed_xml()), actor_id=analyst_id(),
                                         now=now, processes_dir=FOLDER))
    assert draft.saved and draft.revision == 1 and not draft.deployable
    assert draft.updated_by == "流程分析员"
    assert [p["element_id"] for p in draft.bpmn_problems] == ["task_tax_check"]
    assert "未设置表单" in draft.bpmn_problems[0]["message"]
    db.session.rollback()
    row = db.session.execute(select(ProcessDraft)).scalar_one()
    assert row.bpmn_problems == draft.bpmn_problems and row.updated_by_id == analyst_id()
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "process.draft_saved")).scalar_one()
    assert event.after["part"] == "bpmn" and event.after["problems"] == 1
    with pytest.raises(InvalidInput) as refused:
        run(lambda: drafts.deploy(db.session, KEY, actor_id=analyst_id(), now=now))
    assert refused.value.errors["bpmn"][0]["element_id"] == "task_tax_check"
    assert processes.latest(db.session, KEY).version == 1


def test_an_unknown_form_and_lane_problems_come_from_the_deploy_rules(app):
    xml = with_new_task(deployed_xml(), form_key="no_such_form").replace('name="税务局"', 'name="不存在的局"')
    draft = run(lambda: drafts.save_bpmn(db.session, KEY, xml, actor_id=analyst_id(), now=clock.now()))
    by_element = {p["element_id"]: p["message"] for p in draft.bpmn_problems}
    assert "不存在" in by_element["task_tax_check"] and "no_such_form" in by_element["task_tax_check"]
    assert "不是已登记的部门" in by_element["lane_tax"]


def test_broken_xml_is_kept_as_a_draft_with_its_problem(app):
    draft = run(lambda: drafts.save_bpmn(db.session, KEY, "<bpmn:definitions", actor_id=analyst_id(),
                                         now=clock.now(), processes_dir=FOLDER))
    assert draft.saved and "不是有效的 XML" in draft.bpmn_problems[0]["message"]


def test_a_stale_revision_is_refused_and_nothing_changes(app):
    run(lambda: drafts.save_bpmn(db.session, KEY, deployed_xml(), actor_id=analyst_id(), now=clock.now(),
                                 processes_dir=FOLDER))
    with pytest.raises(Conflict):
        run(lambda: drafts.save_bpmn(db.session, KEY, "<x/>", actor_id=analyst_id(), now=clock.now(), revision=7))
    assert drafts.current(db.session, KEY).bpmn_xml == deployed_xml()


def test_a_form_saved_in_the_draft_fixes_the_task_and_deploys_with_it(app):
    now = clock.now()
    run(lambda: drafts.save_bpmn(db.session, KEY, with_new_task(deployed_xml(), "business_startup_tax_check"),
                                 actor_id=analyst_id(), now=now, processes_dir=FOLDER))
    assert "business_startup_tax_check" in drafts.current(db.session, KEY).bpmn_problems[0]["message"]
    bad = {"id": "other_id", "components": []}
    with pytest.raises(InvalidInput):
        run(lambda: drafts.save_form(db.session, KEY, "business_startup_tax_check", bad, actor_id=analyst_id(), now=now))
    schema = {"id": "business_startup_tax_check", "type": "default",
              "components": [{"type": "textfield", "key": "tax_note", "label": "预审意见"}]}
    draft = run(lambda: drafts.save_form(db.session, KEY, "business_startup_tax_check", schema,
                                         actor_id=analyst_id(), now=now))
    assert draft.bpmn_problems == [] and draft.deployable and draft.revision == 2
    definition = run(lambda: drafts.deploy(db.session, KEY, actor_id=analyst_id(), now=now))
    assert definition.version == 2 and definition.deployed_by_id == analyst_id()
    assert definition.model["forms"]["business_startup_tax_check"] == schema
    assert definition.catalog == processes.versions(db.session, KEY)[1].catalog  # the catalog came along
    assert db.session.execute(select(func.count()).select_from(ProcessDraft)).scalar() == 0
    assert db.session.execute(select(FormDefinition).where(
        FormDefinition.key == "business_startup_tax_check")).scalar_one().schema == schema
    actions = set(db.session.execute(select(AuditEvent.action)).scalars())
    assert {"process.deployed", "process.draft_deployed"} <= actions
    assert drafts.current(db.session, KEY).base_version == 2  # the next draft starts from version 2


def test_catalog_problems_are_kept_in_chinese_with_lines_and_block_the_deploy(app):
    now = clock.now()
    text = drafts.current(db.session, KEY, processes_dir=FOLDER).catalog_yaml
    broken = text.replace("{amount: 1, unit: workhour}", "{amount: 1, unit: fortnight}", 1)
    draft = run(lambda: drafts.save_catalog(db.session, KEY, broken, actor_id=analyst_id(), now=now,
                                            processes_dir=FOLDER))
    assert draft.saved and len(draft.catalog_problems) == 1
    assert draft.catalog_problems[0].startswith("第 ") and "unit 必须是" in draft.catalog_problems[0]
    assert draft.catalog_yaml == broken
    with pytest.raises(InvalidInput):
        run(lambda: drafts.deploy(db.session, KEY, actor_id=analyst_id(), now=now))
    draft = run(lambda: drafts.save_catalog(db.session, KEY, text, actor_id=analyst_id(), now=now))
    assert draft.catalog_problems == [] and draft.deployable
    assert run(lambda: drafts.deploy(db.session, KEY, actor_id=analyst_id(), now=now)).version == 2


def test_the_diff_lists_added_removed_and_changed_elements(app):
    now = clock.now()
    xml = with_new_task(deployed_xml(), "business_startup_tax")
    xml = xml.replace('name="社保登记"', 'name="社会保险登记"')
    xml = xml.replace("workdays(5)</bpmn:timeDate>", "workdays(3)</bpmn:timeDate>")
    xml = xml.replace("need_housing_fund</bpmn:conditionExpression>", "need_housing_fund == True</bpmn:conditionExpression>")
    run(lambda: drafts.save_bpmn(db.session, KEY, xml, actor_id=analyst_id(), now=now, processes_dir=FOLDER))
    run(lambda: drafts.deploy(db.session, KEY, actor_id=analyst_id(), now=now))
    found = drafts_diff.version_diff(db.session, KEY, 1, 2)
    assert {c["element_id"] for c in found["added"]} == {"task_tax_check", "flow_tax_check"}
    assert found["removed"] == []
    changed = {c["element_id"]: {f["field"]: (f["before"], f["after"]) for f in c["fields"]} for c in found["changed"]}
    assert changed["task_social_insurance"] == {"name": ("社保登记", "社会保险登记")}
    assert changed["timer_deemed"]["timer"][1] == {"kind": "timeDate", "expression": "workdays(3)"}
    assert changed["flow_tax"] == {"target": ("task_tax", "task_tax_check")}
    assert changed["flow_housing_fund"] == {"condition": ("need_housing_fund", "need_housing_fund == True")}
    back = drafts_diff.version_diff(db.session, KEY, 2, 1)
    assert {c["element_id"] for c in back["removed"]} == {"task_tax_check", "flow_tax_check"}
    with pytest.raises(InvalidInput):
        drafts_diff.version_diff(db.session, KEY, 1, 1)


def test_the_summary_reads_lanes_forms_and_multi_instance_settings():
    xml = (BASE_DIR / "processes" / "construction_stage_works.bpmn").read_bytes()
    elements = element_diff.summarize(xml)
    review = elements["task_drawing_review"]
    assert review.props["form_key"] == "construction_drawing_review"
    assert review.props["multi_instance"] == {"sequential": False, "collection": "drawing_reviewers",
                                              "element_variable": "reviewer", "output_collection": "drawing_results",
                                              "output_element": "drawing_result"}
    assert review.props["lane"]
    changed = xml.replace(b"<bpmn:multiInstanceLoopCharacteristics>",
                          b'<bpmn:multiInstanceLoopCharacteristics isSequential="true">')
    (change,) = element_diff.diff(xml, changed)
    assert change.element_id == "task_drawing_review" and change.fields[0][0] == "multi_instance"
    assert change.fields[0][2]["sequential"] is True
