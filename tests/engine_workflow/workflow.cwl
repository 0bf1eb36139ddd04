#!/usr/bin/env cwl-runner
# Shaped like Sage's model-to-data template (workflow.cwl): a v1.2 workflow with the inputs the
# orchestrator passes, running v1.0 steps kept beside it (the template imports some by https URL;
# tests have no network). `when` is CWL v1.2 only: toil 4.1.0's cwltool cannot load this file.
cwlVersion: v1.2
class: Workflow
label: Engine check shaped like the model-to-data template

requirements:
  - class: InlineJavascriptRequirement
  - class: StepInputExpressionRequirement

inputs:
  adminUploadSynId:
    type: string
  submissionId:
    type: int
  submitterUploadSynId:
    type: string
  synapseConfig:
    type: File
  workflowSynapseId:
    type: string
  inputDir:
    type: string
    default: /home/user/input_data

outputs:
  status:
    type: string
    outputSource: "#01_check_engine/status"
  results:
    type: File
    outputSource: "#01_check_engine/results"

steps:
  01_check_engine:
    run: steps/check-engine.cwl
    when: $(inputs.submissionid > 0)
    in:
      - id: submissionid
        source: "#submissionId"
      - id: parentid
        source: "#adminUploadSynId"
      - id: synapse_config
        source: "#synapseConfig"
      - id: input_dir
        source: "#inputDir"
      - id: check_script
        default:
          class: File
          location: steps/check_engine.py
    out:
      - id: results
      - id: status
