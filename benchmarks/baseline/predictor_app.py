"""The sample's Flask app: the model is loaded lazily on the first /ping; pandas parses and formats."""

import io

import flask
import pandas as pd
import predictor

model_path = "/opt/ml/model"


class ScoringService:
    model = None

    @classmethod
    def get_model(cls):
        if cls.model is None:
            cls.model = predictor.load_model(model_path)
        return cls.model

    @classmethod
    def predict(cls, input):
        return predictor.predict(cls.get_model(), input.to_numpy(dtype="float64"), {})


app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    health = ScoringService.get_model() is not None
    status = 200 if health else 404
    return flask.Response(response="\n", status=status, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation():
    if flask.request.content_type == "text/csv":
        data = flask.request.data.decode("utf-8")
        s = io.StringIO(data)
        data = pd.read_csv(s, header=None)
    else:
        return flask.Response(response="This predictor only supports CSV data", status=415, mimetype="text/plain")

    print(f"Invoked with {data.shape[0]} records")
    predictions = ScoringService.predict(data)

    out = io.StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    result = out.getvalue()
    return flask.Response(response=result, status=200, mimetype="text/csv")
