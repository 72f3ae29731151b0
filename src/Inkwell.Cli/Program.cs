using Inkwell.Cli.Commands;

return await CommandRunner.RunAsync(args);
