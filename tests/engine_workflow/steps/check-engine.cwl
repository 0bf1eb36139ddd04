#!/usr/bin/env cwl-runner
# Like the template's steps/run-docker.cwl: CWL v1.0, no DockerRequirement (runs on the engine's
# own python3), the script staged with InitialWorkDirRequirement, JavaScript in outputEval.
cwlVersion: v1.0
class: CommandLineTool
doc: Report the engine's Python and the modules the template's steps import.

requirements:
  - class: InitialWorkDirRequirement
    listing:
      - $(inputs.check_script)
  - class: InlineJavascriptRequirement

inputs:
  - id: submissionid
    type: int
  - id: parentid
    type: string
  - id: synapse_config
    type: File
  - id: input_dir
    type: string
  - id: check_script
    type: File

outputs:
  - id: results
    type: File
    outputBinding:
      glob: results.json
  - id: status
    type: string
    outputBinding:
      glob: results.json
      loadContents: true
      outputEval: $(JSON.parse(self[0].contents)['submission_status'])

baseCommand: python3
arguments:
  - valueFrom: $(inputs.check_script.path)
  - prefix: -s
    valueFrom: $(inputs.submissionid)
  - prefix: --parentid
    valueFrom: $(inputs.parentid)
  - prefix: -c
    valueFrom: $(inputs.synapse_config.path)
  - prefix: -i
    valueFrom: $(inputs.input_dir)
