// Study plans: the grid's configurations and evaluation settings, task pairs, and validation.
#include "study/plan.h"

#include <gtest/gtest.h>

#include "data/protocol.h"
#include "study/grid.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

const data::Protocol& protocol() {
  static const data::Protocol loaded = data::load_protocol(testing::shared_data_dir());
  return loaded;
}

Plan table1_plan() {
  Plan plan;
  plan.models = {"/models/Qwen1.5-1.8B", "demo"};
  plan.mixtures = {"zh", "zh,es"};
  plan.targets = {"en", "it"};
  plan.tasks = {parse_task_pair("snli"), parse_task_pair("snli:emotion")};
  plan.labels = {data::AnswerType::english, data::AnswerType::same_language};
  plan.shots = {-1, 0};
  return plan;
}

TEST(Plan, OneAdapterPerModelMixtureTargetAndTuningTask) {
  const std::vector<Configuration> configurations = plan_configurations(table1_plan(), protocol());
  ASSERT_EQ(configurations.size(), 2u * 2u * 2u);  // snli and snli:emotion share the snli adapter
  EXPECT_EQ(configurations[0].id, "Qwen1.5-1.8B.zh_to_en.snli");
  EXPECT_EQ(configurations[1].id, "Qwen1.5-1.8B.zh-es_to_en.snli");
  EXPECT_EQ(configurations[1].label, "zh/es => en");
  EXPECT_EQ(configurations[3].id, "Qwen1.5-1.8B.zh-es_to_it.snli");
  EXPECT_EQ(configurations[4].model_id, "demo");
  EXPECT_EQ(configurations[3].sources, (std::vector<std::string>{"zh", "es"}));
}

TEST(Plan, EvaluationSettingsCrossTasksAnswerTypesAndShots) {
  const std::vector<EvaluationSetting> settings = evaluation_settings(table1_plan(), "snli");
  ASSERT_EQ(settings.size(), 2u * 2u * 2u);
  EXPECT_EQ(settings[0].id, "snli.english.default-shots");
  EXPECT_EQ(settings[1].id, "snli.english.0-shots");
  EXPECT_EQ(settings[2].id, "snli.same-language.default-shots");
  EXPECT_EQ(settings[4].id, "emotion.english.default-shots");
  EXPECT_EQ(settings[4].task, "emotion");
  EXPECT_EQ(all_evaluation_settings(table1_plan()).size(), 8u);
  EXPECT_TRUE(evaluation_settings(table1_plan(), "paws").empty());
}

TEST(Plan, TaskPairsAndJsonRoundTrip) {
  EXPECT_EQ(parse_task_pair("snli").eval, "snli");
  EXPECT_EQ(parse_task_pair("snli:all").eval, "all");
  for (const char* bad : {":emotion", "snli:", "a:b:c", "all"})
    EXPECT_NE(testing::error_of([&] { parse_task_pair(bad); }).find("TUNE:EVAL"), std::string::npos) << bad;
  const Plan plan = table1_plan();
  const io::Json json = plan_to_json(plan);
  EXPECT_EQ(json["tasks"], io::Json({"snli", "snli:emotion"}));
  EXPECT_EQ(json["shots"], io::Json({"default", 0}));
  const Plan back = plan_from_json(json, "plan.json", Plan{});
  EXPECT_EQ(plan_to_json(back), json);
}

TEST(Plan, PlanFilesAreValidatedWithTheFileNamed) {
  const Plan defaults = table1_plan();
  EXPECT_EQ(plan_from_json(io::Json{{"targets", {"it"}}}, "p.json", defaults).targets, std::vector<std::string>{"it"});
  EXPECT_EQ(plan_from_json(io::Json{{"targets", {"it"}}}, "p.json", defaults).mixtures, defaults.mixtures);
  EXPECT_NE(testing::error_of([] { plan_from_json(io::Json{{"mixtures", {"zh"}}}, "p.json", Plan{}); })
                .find("p.json: unknown key \"mixtures\""),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { plan_from_json(io::Json{{"shots", {-2}}}, "p.json", Plan{}); }).find("\"shots\""),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { plan_from_json(io::Json{{"labels", {"klingon"}}}, "p.json", Plan{}); })
                .find("p.json: unknown answer type"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { plan_from_json(io::Json{{"targets", "it"}}, "p.json", Plan{}); })
                .find("non-empty array"),
            std::string::npos);
}

TEST(Plan, ValidationRefusesWhatCannotRunBeforeAnyWork) {
  validate_plan(table1_plan(), protocol());
  Plan plan = table1_plan();
  plan.mixtures = {"zh,it"};
  EXPECT_NE(testing::error_of([&] { validate_plan(plan, protocol()); }).find("mixture zh,it contains its target it"),
            std::string::npos);
  plan = table1_plan();
  plan.models = {"/a/model", "/b/model"};
  EXPECT_NE(testing::error_of([&] { validate_plan(plan, protocol()); }).find("two models are named model"),
            std::string::npos);
  plan = table1_plan();
  plan.targets.clear();
  EXPECT_NE(testing::error_of([&] { validate_plan(plan, protocol()); }).find("no targets"), std::string::npos);
  plan = table1_plan();
  plan.tasks = {parse_task_pair("snli:xnli")};
  EXPECT_FALSE(testing::error_of([&] { validate_plan(plan, protocol()); }).empty());
}

// The message validate_plan refuses `plan` with ("" when it accepts it).
std::string refusal(const Plan& plan) {
  try {
    validate_plan(plan, protocol());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// An entry given twice would run once and show twice in every table: every axis refuses one, and
// a mixture of the same languages in another order is the same mixture.
TEST(Plan, EntriesGivenTwiceAreRefusedByName) {
  const std::string twice = ": each configuration and evaluation would run once and show twice in every table";
  Plan plan = table1_plan();
  plan.mixtures = {"zh", "zh"};
  EXPECT_EQ(refusal(plan), "study plan: tuning mixture zh is given twice" + twice);
  plan.mixtures = {"zh,de", "es", "de,zh"};
  EXPECT_EQ(refusal(plan), "study plan: tuning mixture zh,de and de,zh are the same" + twice);
  plan = table1_plan();
  plan.models = {"demo", "/models/Qwen1.5-1.8B", "demo"};
  EXPECT_EQ(refusal(plan), "study plan: model demo is given twice" + twice);
  plan = table1_plan();
  plan.targets = {"en", "it", "en"};
  EXPECT_EQ(refusal(plan), "study plan: target en is given twice" + twice);
  plan = table1_plan();
  plan.tasks = {parse_task_pair("snli"), parse_task_pair("snli:snli")};
  EXPECT_EQ(refusal(plan), "study plan: task snli is given twice" + twice);
  plan.tasks = {parse_task_pair("snli:emotion"), parse_task_pair("snli:emotion")};
  EXPECT_EQ(refusal(plan), "study plan: task snli:emotion is given twice" + twice);
  plan = table1_plan();
  plan.labels = {data::AnswerType::english, data::AnswerType::same_language, data::AnswerType::english};
  EXPECT_EQ(refusal(plan), "study plan: answer type english is given twice" + twice);
  plan = table1_plan();
  plan.shots = {-1, 0, -1};
  EXPECT_EQ(refusal(plan), "study plan: shots default is given twice" + twice);
  plan.shots = {2, 2};
  EXPECT_EQ(refusal(plan), "study plan: shots 2 is given twice" + twice);
}

// Task-agnostic words mean the labels only through demonstrations; without any the result would be
// chance accuracy without a word of warning.
TEST(Plan, TaskAgnosticAnswersWithoutDemonstrationsAreRefused) {
  Plan plan = table1_plan();
  plan.tasks = {parse_task_pair("emotion")};
  plan.labels = {data::AnswerType::english, data::AnswerType::task_agnostic};
  plan.shots = {-1, 0};
  EXPECT_NE(refusal(plan).find("answer type task-agnostic needs demonstrations, and 0 shots gives none"),
            std::string::npos)
      << refusal(plan);
  plan.shots = {-1, 1};
  EXPECT_EQ(refusal(plan), "");
  plan.labels = {data::AnswerType::english};
  plan.shots = {0};
  EXPECT_EQ(refusal(plan), "");
}

// 97 models x 1,159 mixtures x 3 tuning tasks once started as 337,269 adapters to train: a plan
// beyond --max-configurations is refused with its size, the limit and the option.
TEST(Plan, APlanBeyondTheConfigurationLimitIsRefused) {
  Plan plan = table1_plan();  // 2 models x 2 mixtures x 2 targets x 1 tuning task
  EXPECT_EQ(configuration_count(plan), 8u);
  EXPECT_EQ(plan.max_configurations, 200u);
  plan.max_configurations = 8;
  EXPECT_EQ(refusal(plan), "");
  plan.max_configurations = 7;
  EXPECT_EQ(refusal(plan),
            "study plan: 8 configurations (2 model(s) x 2 mixture(s) x 2 target(s) x 1 tuning task(s)), more than "
            "the limit of 7: a plan this large is most likely a mistake (each configuration trains an adapter); if "
            "it is meant, raise the limit with --max-configurations 8");
  plan = table1_plan();  // with 80 two-language mixtures: 2 x 80 x 2 x 1
  plan.mixtures.clear();
  for (const char* first : {"zh", "de", "fr", "es", "ja", "ru", "sw", "th", "bn", "hi"})
    for (const char* second : {"nl", "sv", "sl", "pl", "bg", "no", "ms", "is"})
      plan.mixtures.push_back(std::string(first) + "," + second);
  EXPECT_NE(refusal(plan).find("study plan: 320 configurations"), std::string::npos) << refusal(plan);
  plan.max_configurations = 320;
  EXPECT_EQ(refusal(plan), "");
  EXPECT_NE(plan_summary(table1_plan(), protocol()).find("8 adapters to train (at most 200: --max-configurations)"),
            std::string::npos)
      << plan_summary(table1_plan(), protocol());
}

TEST(Plan, SeveralValuesOnAnEvaluationOrTuningAxisMakeAGrid) {
  PlanAxes axes;
  axes.models = {"a", "b"};  // `run` has one model and one task; `study` is a grid whatever they are
  axes.tasks = {"snli", "paws"};
  EXPECT_FALSE(is_grid(axes));
  for (std::vector<std::string> PlanAxes::*axis : {&PlanAxes::mixtures, &PlanAxes::targets, &PlanAxes::labels}) {
    PlanAxes several = axes;
    (several.*axis).push_back((several.*axis).front() == "english" ? "same-language" : "sw");
    EXPECT_TRUE(is_grid(several));
  }
  axes.shots = {"default", "0"};
  EXPECT_TRUE(is_grid(axes));
}

TEST(Plan, RunsGridIsItsOneModelAndTaskCrossedWithItsAxes) {
  StudyOptions options;
  PlanAxes axes;
  axes.mixtures = {"zh", "sw,hi"};
  axes.labels = {"english", "same-language"};
  axes.max_configurations = 5;
  Plan plan = single_model_plan(options, axes);
  EXPECT_EQ(plan.models, std::vector<std::string>{"demo"});
  ASSERT_EQ(plan.tasks.size(), 1u);
  EXPECT_EQ(plan.tasks[0].tune, "emotion");
  EXPECT_EQ(plan.tasks[0].eval, "all");
  EXPECT_EQ(plan.mixtures, axes.mixtures);
  EXPECT_EQ(plan.labels, (std::vector<data::AnswerType>{data::AnswerType::english, data::AnswerType::same_language}));
  EXPECT_EQ(plan.max_configurations, 5u);
  options.model_dir = "/models/m";
  options.task = "snli";
  options.eval_task = "snli";
  plan = single_model_plan(options, axes);
  EXPECT_EQ(plan.models, std::vector<std::string>{"/models/m"});
  EXPECT_EQ(plan.tasks[0].tune, "snli");
  EXPECT_EQ(plan.tasks[0].eval, "snli");
}

TEST(Plan, ASingleConfigurationSetsTheStudysOptions) {
  PlanAxes axes;
  axes.mixtures = {"sw,hi"};
  axes.targets = {"it"};
  axes.labels = {"task-agnostic"};
  axes.shots = {"0"};
  const StudyOptions options = with_single_configuration(StudyOptions(), parse_plan_axes(axes));
  EXPECT_EQ(options.train_languages, "sw,hi");
  EXPECT_EQ(options.target, "it");
  EXPECT_EQ(options.labels, data::AnswerType::task_agnostic);
  EXPECT_EQ(options.shots, 0);
}

}  // namespace
}  // namespace qtalign::study
