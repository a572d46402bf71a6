/** vars/dbSnapshot.groovy: a manual RDS snapshot, waited for (pipeline-py db snapshot). Issue 17. */
class DbSnapshotTest extends EnvStepTestSupport {
    DbSnapshotTest() {
        super('dbSnapshot', [env: 'prod'], 'db snapshot')
    }

    void testReturnsTheSnapshotIdAndNamesItAfterTheBuild() {
        responses['db snapshot'] = [instance: 'task-api-prod', snapshot: 'task-api-prod-jenkins-apps-task-api-main-42-20260501t1200',
                                    snapshot_status: 'available']
        String id = h.vars.dbSnapshot.call(env: 'prod')
        assert id == 'task-api-prod-jenkins-apps-task-api-main-42-20260501t1200'
        assert runOf('db snapshot').params == [env: 'prod', build: 'jenkins-apps-task-api-main-42', timeout: 1800]
        assert h.archived == ['pipeline-py-reports/db-snapshot-prod.json']
        assert h.log.contains('dbSnapshot (prod): task-api-prod-jenkins-apps-task-api-main-42-20260501t1200 of task-api-prod: available')
    }

    void testEveryOptionIsHandedOver() {
        responses['db snapshot'] = [snapshot: 'before-migration-7']
        String id = h.vars.dbSnapshot.call(env: 'prod', instance: 'orders-db', build: 'release-7', snapshotId: 'before-migration-7',
            tags: [change: 'CHG-1234', owner: 'team-a'], timeoutMinutes: 45, pollInterval: 20, report: false)
        assert id == 'before-migration-7'
        assert runOf('db snapshot').params == [env: 'prod', instance: 'orders-db', build: 'release-7',
                                               'snapshot-id': 'before-migration-7', tag: [change: 'CHG-1234', owner: 'team-a'],
                                               timeout: 2700, 'poll-interval': 20]
        assert h.archived == []
    }

    void testASnapshotThatCannotBeTakenFailsTheBuild() {
        responses['db snapshot'] = [code: 1, result: [status: 'refused', message: 'cannot snapshot task-api-prod now: it is modifying']]
        Map r = attempt([env: 'prod'])
        assert r.error == 'pipeline-py db snapshot failed (nothing was left half-done): cannot snapshot task-api-prod now: it is modifying'
        r = attempt([env: 'prod', timeoutMinutes: 0])
        assert r.error == 'dbSnapshot: timeoutMinutes must be positive, got 0'
        checkAWronglyTypedValueIsNotEchoed('timeoutMinutes', '30m', 'a number')
    }
}
