// scangate for Jenkins (docs/ci/jenkins.md): a shared-library step. Load this library (ci/jenkins/ of a scangate
// release tag) and call, in a node with bash, curl and python3:
//
//   scangate(roleArn: '<JenkinsRoleArn>', externalIdCredentials: 'scangate-external-id', region: 'eu-west-1',
//            reportBucket: '<ReportBucketName>', kmsKeyId: '<KmsKeyArn>', releaseUrl: 'https://…', version: '…',
//            sha256: '…', scan: 'image', target: 'registry/app:1.2')
//
// The agent's own AWS identity (the stack's JenkinsPrincipalArn) assumes JenkinsRole with the external id, kept in a
// Jenkins secret-text credential; the step installs the pinned scangate release, scans, uploads under
// scans/jenkins~<JenkinsName>/, waits for the stack's verdict, records the JUnit report and the SARIF (warnings-ng),
// and fails the build on a failed gate.
def call(Map args) {
    def script = libraryResource('io/scangate/scangate-ci.sh')
    writeFile(file: '.scangate-ci.sh', text: script)
    def vars = [
        'SCANGATE_CI=jenkins',
        "SCANGATE_ROLE_ARN=${args.roleArn}",
        "AWS_REGION=${args.region}",
        "REPORT_BUCKET=${args.reportBucket}",
        "REPORT_KMS_KEY_ID=${args.kmsKeyId}",
        "SCANGATE_RELEASE_URL=${args.releaseUrl}",
        "SCANGATE_VERSION=${args.version}",
        "SCANGATE_SHA256=${args.sha256}",
        "SCANGATE_REPOSITORY=${args.name ?: 'jenkins'}",
        "SCANGATE_RUN_ID=${env.BUILD_TAG}",
        "SCANGATE_BRANCH=${env.BRANCH_NAME ?: ''}",
        "SCANGATE_KIND=${args.scan ?: 'repo'}",
        "SCANGATE_TARGET=${args.target ?: '.'}",
        "SCANGATE_WAIT=${args.wait ?: '900'}",
        "SCANGATE_OUT=${args.outputDir ?: 'scangate-out'}",
        "SCANGATE_INSTALL_DIR=${env.WORKSPACE}/.scangate/bin",
        "SCANGATE_CREDENTIAL_SOURCE=${args.credentialSource ?: 'Ec2InstanceMetadata'}",
        "PATH+SCANGATE=${env.WORKSPACE}/.scangate/bin",
    ]
    def status = 0
    withCredentials([string(credentialsId: args.externalIdCredentials, variable: 'SCANGATE_EXTERNAL_ID')]) {
        withEnv(vars) {
            sh 'bash .scangate-ci.sh install'
            status = sh(script: 'bash .scangate-ci.sh scan', returnStatus: true)
        }
    }
    def out = args.outputDir ?: 'scangate-out'
    junit(testResults: "${out}/junit.xml", allowEmptyResults: true)
    recordIssues(tools: [sarif(pattern: "${out}/code-scanning.sarif", id: 'scangate', name: 'scangate')])
    if (status == 42) {
        error('scangate: the gate failed (the stack\'s verdict)')
    } else if (status != 0) {
        error("scangate: exit ${status}")
    }
    return status
}
