# syntax=docker/dockerfile:1
# The `inkwell` CLI (serve, gateway, tools) on the ASP.NET Core runtime, as a non-root user.
#   docker build -t inkwell:latest .
#   docker run -p 3000:3000 -v hf:/data/huggingface -e MODEL_NAME=org/name inkwell:latest
# deploy/ runs this image with its own args (serve or serve --registry); see docs/deploy.md.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so source edits reuse the restored layer.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/Inkwell.Runtime/Inkwell.Runtime.csproj src/Inkwell.Runtime/
COPY src/Inkwell.Models/Inkwell.Models.csproj src/Inkwell.Models/
COPY src/Inkwell.Templates/Inkwell.Templates.csproj src/Inkwell.Templates/
COPY src/Inkwell.Engine/Inkwell.Engine.csproj src/Inkwell.Engine/
COPY src/Inkwell.Client/Inkwell.Client.csproj src/Inkwell.Client/
COPY src/Inkwell.Server/Inkwell.Server.csproj src/Inkwell.Server/
COPY src/Inkwell.Cli/Inkwell.Cli.csproj src/Inkwell.Cli/
RUN dotnet restore src/Inkwell.Cli/Inkwell.Cli.csproj
COPY src/ src/
# The embedded stories260K, served when no model is named.
COPY models/stories260K/ models/stories260K/
RUN dotnet publish src/Inkwell.Cli/Inkwell.Cli.csproj -c Release --no-restore -o /app -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
# The Hugging Face cache: mount a volume here (deploy/ mounts a PersistentVolumeClaim) so downloads outlive the pod.
ENV HF_HOME=/data/huggingface
RUN mkdir -p /data/huggingface && chown "$APP_UID" /data/huggingface
# The image's unprivileged user (APP_UID, 1654 in Microsoft's .NET images).
USER $APP_UID
# TGI and OpenAI HTTP; TGIS gRPC.
EXPOSE 3000 8033
ENTRYPOINT ["dotnet", "/app/inkwell.dll"]
# HOSTNAME is set to the container's name by Docker and Kubernetes; serve reads it as TGI's variable, so say 0.0.0.0.
CMD ["serve", "--hostname", "0.0.0.0"]
