"""Audit actions in words, for the timelines on the case and task pages."""

ACTIONS = {
    "case.started": "综合窗口收件登记", "task.completed": "办理完成", "effect.accept": "受理", "effect.notice": "出具文书",
    "effect.notify": "通知申请人", "effect.credit_record": "记入信用记录", "effect.certificate": "生成电子证照",
    "effect.revoke_certificates": "作废证照", "effect.suspend": "中止计时", "effect.resume": "恢复计时",
    "effect.deliver": "统一出件", "material.uploaded": "上传材料", "material.certificate_attached": "调用电子证照（免证办）",
    "message.received": "收到补正材料", "timer.fired": "期限届满", "case.suspended": "中止计时",
    "case.resumed": "恢复计时", "case.extended": "延长办理期限", "case.migrated": "迁移到流程新版本", "supervision.remind": "催办",
    "supervision.supervise": "督办", "supervision.escalate": "升级问责", "incident.opened": "流程运行异常，已转人工处理",
    "incident.retried": "异常环节已重试", "incident.skipped": "异常环节已跳过",
    "task.claimed": "认领任务", "task.unclaimed": "取消认领", "task.reassigned": "转办", "task.delegated": "委派",
    "task.resolved": "交回委派人", "task.copied": "抄送", "task.copy_read": "查阅抄送", "task.commented": "评论",
    "task.sign_added": "加签", "task.sign_decided": "加签审批", "task.sign_cancelled": "撤销加签",
    "task.withdrawn": "撤回办结", "rating.created": "好差评", "followup.opened": "差评整改", "followup.resolved": "整改完成",
    "materials.swept": "清理无引用的材料文件",
}
